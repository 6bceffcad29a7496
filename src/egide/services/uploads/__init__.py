"""Resumable uploads (tus 1.0.0): parts stored encrypted, completed through FileService.write."""
