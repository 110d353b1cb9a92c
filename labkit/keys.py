"""The user.labkit.* keys a class writes on its projects and instances.

Here rather than in classroom/: a chapter's reset (labs/) must know an instance made by a class
(its keys stay as the class wrote them), and chapters sit below classes in the layers.
Project config keys cannot be written by the learner; instance keys can, and the class's
instructor holds the same values to compare.
"""
CLASS_KEY, ROLE_KEY, LEARNER_KEY = "user.labkit.class", "user.labkit.role", "user.labkit.learner"
CERT_KEY, CONTAINER_KEY, LIMITS_KEY = "user.labkit.certificate", "user.labkit.container", "user.labkit.limits"
IMAGE_KEY, LEARNERS_KEY = "user.labkit.image", "user.labkit.learners"
LISTEN_KEY, LISTEN_OWNER_KEY = "user.labkit.listen", "user.labkit.listen.owner"
# The lab (chapter id) the class does, on the class project; a class made before there were two is the first.
LAB_KEY = "user.labkit.lab"
# On a learner's project, for a chapter that needs the snapshot server: the name of the certificate
# their token makes there (the chapter's `learner` param). Project config: the learner cannot write it.
TRUST_KEY = "user.labkit.snapshot-server.trust"
# On the class project: the workspace limits chosen at `class create --workspace` (over the defaults).
WORKSPACE_KEY = "user.labkit.workspace"
