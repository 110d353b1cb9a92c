"""Setting a machine up: packages, daemon, storage, image, the snapshot server, the recorder."""
