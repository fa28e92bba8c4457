import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # tables.py and elfcores.py, the crafted-image builders
