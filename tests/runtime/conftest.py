import os
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "core", "src"))
if SRC not in sys.path:
    sys.path.insert(0, SRC)
