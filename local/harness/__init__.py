"""The library under the tests and the commands in ``local/``: no command-line entry here.

``ec2sim`` (EC2 and STS, made realistic, on loopback), ``receiver`` (the HTTPS response URL),
``events`` (events as CloudFormation sends them, and one custom resource that sends them),
``lambda_loader`` (the handler loaded as Lambda does), ``fleets`` (Auto Scaling groups and
the reconciler's EventBridge events), ``environments`` (Lambda environments
side by side, one process each) and ``iam_policies`` (a template's policies, rendered).
"""
