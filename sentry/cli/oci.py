"""`pysandbox-oci`: the runc-compatible OCI runtime (not implemented yet)."""
import sys


def main(argv=None) -> int:
    sys.stderr.write("pysandbox-oci: not implemented yet\n")
    return 1
