"""The JupyterHub front door of a class (`labkit class serve|credentials`).

- state.py: where the hub keeps its files in the class folder, and the accounts file (logins)
- accounts.py: the logins, and what a new workspace is given (notebooks, the learner's Incus folder)
- workspace_image.py, workspace_limits.py, workspaces.py: each learner's workspace container,
  its image, its limits, its devices; spawner.py: JupyterHub's spawner that runs JupyterLab in it
- access.py: the class's API on loopback HTTPS, which workspaces reach through a proxy device
- runtime.py: the virtual environment JupyterLab runs from, attached read-only to workspaces
- config.py: the generated jupyterhub_config.py; auth.py: the hub's authenticator;
  pages.py and templates/: the hub's own pages in the class language
- serve.py: runs the hub in the foreground; stops it; teardown.py: what `class destroy` adds
- dashboard.py: the instructor's service; dashboard_page.py: its page
- credentials.py: the credentials as JSON and as a printable HTML sheet
"""
