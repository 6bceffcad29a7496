"""The vault: spaces, folders, files, versions, trash, quotas, keys and maintenance."""
