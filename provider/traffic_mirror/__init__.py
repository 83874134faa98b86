"""EC2 Traffic Mirror sessions as CloudFormation resources: Custom::TrafficMirrorSession, fleets
of them (Custom::TrafficMirrorFleet), and a scheduled sweep that keeps both true.

Packages by concern: ``cloudformation`` (the event, the answer, crhelper, the entries'
wiring), ``aws`` (EC2, role assumption, the SSM records, eventual consistency), ``sessions``
(one session's properties, plan, numbers and lifecycle), ``fleets`` (a fleet's selection,
pass, lifecycle and reconciler) and ``watch`` (drift, orphans and the stacks that claim
sessions). The modules, from the bottom up (imports only flow downward; tests/unit/
test_layout.py holds the layers and checks this list against them):

- :mod:`~traffic_mirror.errors`: error codes, advice, reason fitting;
  :mod:`~traffic_mirror.wiring`: the logger, tracing and time budget the entries share;
  :mod:`~traffic_mirror.aws.consistency`: reading until a write shows (reads lag writes);
  :mod:`~traffic_mirror.cloudformation.request`: the event parsed once, and the answer;
  :mod:`~traffic_mirror.sessions.schema`: the property table, the one home of its facts;
- :mod:`~traffic_mirror.ownership`: physical IDs, ClientTokens, ownership tags;
  :mod:`~traffic_mirror.cloudformation.response`: the answer's body and its PUT;
  :mod:`~traffic_mirror.fleets.schema`: the fleet's properties;
- :mod:`~traffic_mirror.sessions.validation`: properties in, a validated spec out;
  :mod:`~traffic_mirror.sessions.plan`: old and new properties to the exact EC2 writes;
- :mod:`~traffic_mirror.aws.ec2`: the EC2 gateway, its client settings, its one error path;
- :mod:`~traffic_mirror.aws.connect`: the account (RoleArn) and region of a resource;
  :mod:`~traffic_mirror.aws.store`: the SSM records of fleets and sessions;
  :mod:`~traffic_mirror.sessions.allocation`: SessionNumbers distinct under concurrency;
  :mod:`~traffic_mirror.fleets.zones`: each target's zones, each interface's target;
  :mod:`~traffic_mirror.cloudformation.stack`: the stack's region, and is it rolling back;
- :mod:`~traffic_mirror.sessions.converge`: an existing session brought to its properties;
  :mod:`~traffic_mirror.fleets.gateway`: the fleet's EC2 reads (selection, its sessions);
  :mod:`~traffic_mirror.watch.stack_claims`: which session each stack resource holds now;
- :mod:`~traffic_mirror.sessions.adoption`: taking over a session made elsewhere;
  :mod:`~traffic_mirror.fleets.fleet`: one pass that makes a fleet true;
  :mod:`~traffic_mirror.watch.drift`: what differs, and the kinds of findings;
- :mod:`~traffic_mirror.sessions.resource`: a session's create, update, delete and record;
  :mod:`~traffic_mirror.fleets.resource`: a fleet's create, update and delete;
- :mod:`~traffic_mirror.fleets.reconcile`: fleets kept true on launches and on the schedule;
- :mod:`~traffic_mirror.watch.audit`: the sweep of single sessions: drift and orphans;
- :mod:`~traffic_mirror.cloudformation.crhelper_adapter`: crhelper, made to answer once;
- :mod:`~traffic_mirror.cloudformation.entry`: the one wiring of both custom resources.
"""
