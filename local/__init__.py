"""Dev-only tooling (not shipped in the Lambda package), in two parts.

- ``local.harness``: the library. The embedded EC2, the HTTPS receiver that plays
  CloudFormation, event builders, the Lambda loader, parallel Lambda environments and the IAM
  policy renderer. The tests, the demo and the bench all build on it: one copy of each piece.
- ``local.demo``, ``local.invoke``, ``local.bench``, ``local.package_check``: the commands
  (``python -m local.demo``, or ``make demo``), each a thin script over the harness.
"""
