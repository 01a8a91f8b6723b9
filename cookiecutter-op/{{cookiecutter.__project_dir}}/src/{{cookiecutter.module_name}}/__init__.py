"""{{ cookiecutter.description }}

The OPs live in :mod:`{{ cookiecutter.module_name }}.ops`; ``dflow ops {{ cookiecutter.module_name }}`` lists them with
their signs.
"""

from importlib.metadata import version

from {{ cookiecutter.module_name }}.ops import Summarize, scale_values

__all__ = ["Summarize", "__version__", "scale_values"]

__version__ = version("{{ cookiecutter.package_name }}")
