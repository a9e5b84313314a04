"""Child process of test_cpu_independence: convert zoo models (all, or the names in argv[2]) into
argv[1] with whatever oneDNN setting TensorFlow picked up from this process's environment.
Prints one JSON line: {"onednn": bool, "converted": [names]}."""

import json
import sys
from pathlib import Path

from tensorflow.python.util import _pywrap_util_port

from bench import zoo
from jax2tfjs.api import to_tensorflowjs

out = Path(sys.argv[1])
selected = zoo.select(sys.argv[2]) if len(sys.argv) > 2 else zoo.entries()
done = []
for entry in selected:
    built = entry.build(0)
    to_tensorflowjs(
        built.model,
        built.params,
        input_spec=entry.input.struct(),
        out_dir=out / entry.name,
        autofix=False,
        apply_kwargs=built.apply_kwargs,
        name=entry.name,
        progress=False,
    )
    done.append(entry.name)
print(json.dumps({"onednn": bool(_pywrap_util_port.IsMklEnabled()), "converted": done}))
