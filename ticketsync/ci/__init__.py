"""What ticketsync needs in CI: the pull-request comment, and the steps of the GitHub Action
(``action.yml``) and of the GitLab example. The projects of a repository are found by
:mod:`ticketsync.declare.projects`, which the command's ``--projects`` uses too.

Nothing here is imported by the ``ticketsync`` command: the steps run as
``python -m ticketsync.ci.github`` / ``python -m ticketsync.ci.gitlab``.
"""
