"""CRI (Kubernetes Container Runtime Interface) front end for pysandbox.

The wire contract is cri_handler/proto/runtime/v1/api.proto; the Python
modules generated from it live in cri_handler.v1 (see cri_handler.generate).
"""
