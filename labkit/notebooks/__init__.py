"""The notebooks: building them from one source, the notebook API, JupyterLab."""
