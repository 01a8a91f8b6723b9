"""Say what to do next. No network access, nothing else is run."""

import os
import sys
import tempfile

NEXT = """\
Created {package}/ with the OPs in src/{module}/ops.py. Next:

    cd {package}
    pip install -e ".[test]"        # needs dflow-core: see "Install" in README.md
    pytest
    python examples/workflow.py     # runs on the local backend
"""

if __name__ == "__main__":
    # cookiecutter runs a rendered copy of this hook from the temporary directory and
    # leaves it there; remove it (the hook in the template is never in that directory)
    here = os.path.realpath(__file__)
    if os.path.dirname(here) == os.path.realpath(tempfile.gettempdir()):
        os.unlink(here)
    sys.stdout.write(NEXT.format(package={{ cookiecutter.package_name|tojson }}, module={{ cookiecutter.module_name|tojson }}))
