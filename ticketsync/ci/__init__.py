"""What ticketsync needs in CI: the projects of a repository, the pull-request comment, and
the steps of the GitHub Action (``action.yml``) and of the GitLab example.

Nothing here is imported by the ``ticketsync`` command except :mod:`ticketsync.ci.projects`;
the steps run as ``python -m ticketsync.ci.github`` / ``python -m ticketsync.ci.gitlab``.
"""
