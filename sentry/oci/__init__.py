"""The OCI container runtime behind `pysandbox-oci`: config.json loaded,
validated and normalised (spec, seccomp), the container lifecycle and its
state on disk (container, launch), and `features`."""
