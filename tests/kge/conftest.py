import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "kg")
