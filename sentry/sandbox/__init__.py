"""Starting one sandbox and serving it until it ends: the run config, the
sandbox's init and root view (mounts), its cgroup, capabilities, network,
terminal, and the state the handlers share (lifecycle.run is the entry)."""
