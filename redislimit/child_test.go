package redislimit_test

// childEnv names the role of a test binary re-executed as a child process.
const childEnv = "REDISLIMIT_TEST_CHILD"

func runChild(role string) int { return 2 }
