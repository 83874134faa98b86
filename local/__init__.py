"""Dev-only tooling (not shipped in the Lambda package): the embedded EC2, the HTTPS
receiver that plays CloudFormation, the Lambda loader, the demo and the one-event runner.
The test suite uses the same pieces, so there is one copy of each."""
