"""Classes on a shared server: projects, certificates, status and reports."""
