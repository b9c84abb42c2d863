"""The sentry's view of the sandbox's files: resolving a tracee's paths
(resolve), the host's /proc it reaches tracees through (hostproc), and the
synthesized /proc and /sys files (procfs)."""
