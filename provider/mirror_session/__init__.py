"""Custom::TrafficMirrorSession: CloudFormation events in, EC2 Traffic Mirror sessions out.

Modules, each with one job:

- :mod:`mirror_session.schema`: the declarative property table and its validation;
- :mod:`mirror_session.plan`: old/new properties to the exact EC2 writes (pure);
- :mod:`mirror_session.ec2`: the thin EC2 layer and its client settings;
- :mod:`mirror_session.errors`: error codes, advice and reason fitting;
- :mod:`mirror_session.placement`: the account (RoleArn) and region a session lives in;
- :mod:`mirror_session.resource`: create, update and delete (allocation and dry runs too);
- :mod:`mirror_session.responder`: crhelper, made to answer once, promptly and safely.
"""
