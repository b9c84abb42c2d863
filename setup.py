# setuptools still takes cffi_modules only as a setup() keyword; everything
# else is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["csrc/native_build.py:ffibuilder"])
