"""Build hook: cffi generates the out-of-line ABI module, so the wheel stays pure Python."""
from setuptools import setup

setup(cffi_modules=["ntinspect/_native/build.py:ffibuilder"])
