package update

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestBackgroundPriority runs backgroundPriority in a child process (it would slow this
// one down) and reads every thread's nice value from /proc: all are 10.
func TestBackgroundPriority(t *testing.T) {
	if os.Getenv("IZYTRONIQ_TEST_PRIORITY_CHILD") == "1" {
		if err := backgroundPriority(); err != nil {
			t.Fatal(err)
		}
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
			if err != nil {
				continue // the thread ended
			}
			// Field 19 of stat is the nice value; fields after the ")" of the name.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
			if nice, _ := strconv.Atoi(f[16]); nice != backgroundNice {
				t.Errorf("thread %s: nice %d, want %d", task.Name(), nice, backgroundNice)
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBackgroundPriority$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "IZYTRONIQ_TEST_PRIORITY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestBackgroundPriority") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
