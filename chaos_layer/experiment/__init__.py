"""`chaos-layer run` and `chaos-layer report`: an experiment from one file, judged against its
steady state, recorded in a journal and rendered as a page. Operators only: the Lambda layer
leaves this package out."""
