"""m2pg's generic engine: it knows no app.

pymongoarrow's compiled parts were built against another pyarrow release than the one
installed; the "size changed" warnings this gives on import concern type sizes m2pg does not
rely on, and would bury every command's, test's and notebook's output: they are silenced for
any use of the engine, here.
"""

import warnings

warnings.filterwarnings("ignore", message="pyarrow.lib.*size changed", category=RuntimeWarning)
