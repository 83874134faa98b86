"""The acceptance suite's two backends and its commands (``python -m local.aws``).

The scenarios in ``tests/aws`` are written once against :class:`local.aws.backend.Backend`:
``embedded`` plays CloudFormation with the harness against the embedded EC2 (every
``pytest`` run), ``real`` drives CloudFormation, EC2, Auto Scaling and Lambda in an AWS
account (``make test-aws``, see docs/real-aws.md). ``make sweep-aws`` deletes what a failed
real run left, found by the suite's tag.
"""
