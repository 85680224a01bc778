"""Print `integrations/fis/template.yaml`, the generic template, from its one definition."""

import sys

from chaos_layer.fis.template import generic, render

sys.stdout.write(render(generic()))
