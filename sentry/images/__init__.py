"""The OCI image store and the registry client: a content-addressed store of
blobs and unpacked layers (store, unpack), importing archives (importer),
pulling from registries (registry, registries), and turning an image into
what `pysandbox run --image` runs (runimage)."""
