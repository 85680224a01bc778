"""AWS Fault Injection Service runs chaos-layer experiments: the CloudFormation template of an
SSM Automation document that FIS starts and cancels, the roles, and the FIS experiment template.

`python -m chaos_layer.fis > integrations/fis/template.yaml` writes the generic template."""
