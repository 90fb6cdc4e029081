package timer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Exec is the real System: systemctl --user and crontab.
type Exec struct{}

func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return out.String(), fmt.Errorf("%s %s: %s: %w", name, strings.Join(args, " "), msg, err)
		}
		return out.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// SystemdUser implements System.
func (Exec) SystemdUser(ctx context.Context) error {
	_, err := run(ctx, "", "systemctl", "--user", "show-environment")
	return err
}

// Systemctl implements System.
func (Exec) Systemctl(ctx context.Context, args ...string) error {
	_, err := run(ctx, "", "systemctl", append([]string{"--user"}, args...)...)
	return err
}

// ReadCrontab implements System.
func (Exec) ReadCrontab(ctx context.Context) (string, error) {
	out, err := run(ctx, "", "crontab", "-l")
	var ee *exec.ExitError
	if err != nil && errors.As(err, &ee) && strings.Contains(err.Error(), "no crontab") {
		return "", nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return "", errors.New("no crontab command here")
	}
	return out, err
}

// WriteCrontab implements System.
func (Exec) WriteCrontab(ctx context.Context, content string) error {
	if content == "" {
		// crontab - with no input would wait on a terminal in some
		// implementations; an empty crontab is "remove it".
		_, err := run(ctx, "", "crontab", "-r")
		return err
	}
	_, err := run(ctx, content, "crontab", "-")
	return err
}
