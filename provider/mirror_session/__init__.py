"""Custom::TrafficMirrorSession: CloudFormation events in, EC2 Traffic Mirror sessions out.

Modules, each with one job, from the bottom up (imports only flow downward; a test checks):

- :mod:`~mirror_session.schema`: the declarative property table, the one home of
  per-property facts; :mod:`~mirror_session.errors`: error codes, advice, reason fitting;
  :mod:`~mirror_session.request`: the event parsed once, and the answer (Outcome);
- :mod:`~mirror_session.validation`: properties in, a validated spec out;
  :mod:`~mirror_session.identity`: physical IDs, ClientTokens, ownership tags;
  :mod:`~mirror_session.response`: the answer's body and its PUT;
- :mod:`~mirror_session.plan`: old/new properties to the exact EC2 writes (pure);
- :mod:`~mirror_session.ec2`: the EC2 gateway, its client settings and its one error path;
- :mod:`~mirror_session.held`: what EC2 holds, read back as attributes and previous properties;
  :mod:`~mirror_session.allocation`: SessionNumbers distinct under concurrency;
  :mod:`~mirror_session.placement`: the account (RoleArn) and region a session lives in;
- :mod:`~mirror_session.resource`: create, update and delete, registered per request type;
- :mod:`~mirror_session.crhelper_adapter`: crhelper, made to answer once, promptly and safely.
"""
