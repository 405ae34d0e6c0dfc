// ready.js prints a line, a warning and its ready line, then exits when its
// standard input closes; with "exit" as its argument it exits at once.
"use strict";
process.stdout.write("starting\n");
process.stderr.write("warn: on stderr\n");
process.stdout.write("ready 42\r\n");
if (process.argv[2] === "exit") {
    process.exit(0);
}
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
