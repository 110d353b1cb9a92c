"""The JupyterHub front door of a class (`labkit class serve|credentials`).

- state.py: where the hub keeps its files in the class folder, and the accounts file
- accounts.py: one Unix account per learner, its home, notebook and access folder
- access.py: the class's API on loopback HTTPS for learners served on this machine
- runtime.py: the virtual environment learners' JupyterLab runs from (reachable by them)
- config.py: the generated jupyterhub_config.py; auth.py: the hub's authenticator
- serve.py: runs the hub in the foreground; stops it; teardown.py: what `class destroy` adds
- dashboard.py: the instructor's service; dashboard_page.py: its page
- credentials.py: the credentials as JSON and as a printable HTML sheet
"""
