"""The syscall conformance suite's runner (the cases live in conformance/)."""
