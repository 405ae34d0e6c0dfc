// fails.js exits with an error before it is ready.
"use strict";
process.stderr.write("boom: no port\n");
process.exit(3);
