"""Child process of test_cpu_independence: convert zoo models (all, or the names in argv[2]) into
argv[1] with whatever oneDNN setting TensorFlow picked up from this process's environment.
Prints one JSON line: {"onednn": bool, "converted": [names]}."""

import json
import sys
from pathlib import Path

from tensorflow.python.util import _pywrap_util_port

from bench import zoo
from bench.zoo.runner import convert_entry

out = Path(sys.argv[1])
selected = zoo.select(sys.argv[2]) if len(sys.argv) > 2 else zoo.entries()
done = []
for entry in selected:
    convert_entry(entry, entry.build(0), out)
    done.append(entry.name)
print(json.dumps({"onednn": bool(_pywrap_util_port.IsMklEnabled()), "converted": done}))
