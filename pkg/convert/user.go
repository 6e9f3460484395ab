package convert

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// fileReader is what user resolution needs from the root file system.
type fileReader interface {
	Contents(name string) ([]byte, error)
}

// resolveUser turns an image's User ("", "name", "uid", "name:group",
// "uid:gid") into numeric ids using the image's /etc/passwd and /etc/group,
// as a container engine would.
func resolveUser(fsys fileReader, user string) (uid, gid uint32, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	passwd, _ := fsys.Contents("etc/passwd")
	group, _ := fsys.Contents("etc/group")
	uidFound := false
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		uid = uint32(n)
		if rec, ok := findRecord(passwd, func(f []string) bool { return len(f) > 3 && f[2] == u }); ok {
			if n, err := strconv.ParseUint(rec[3], 10, 32); err == nil {
				gid = uint32(n)
			}
		}
		uidFound = true
	} else if rec, ok := findRecord(passwd, func(f []string) bool { return len(f) > 3 && f[0] == u }); ok {
		nu, err1 := strconv.ParseUint(rec[2], 10, 32)
		ng, err2 := strconv.ParseUint(rec[3], 10, 32)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("resolving user %q: %w: malformed /etc/passwd entry", user, ErrUser)
		}
		uid, gid, uidFound = uint32(nu), uint32(ng), true
	}
	if !uidFound {
		return 0, 0, fmt.Errorf("resolving user %q: %w: no such user in the image's /etc/passwd", user, ErrUser)
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uid, uint32(n), nil
	}
	rec, ok := findRecord(group, func(f []string) bool { return len(f) > 2 && f[0] == g })
	if !ok {
		return 0, 0, fmt.Errorf("resolving user %q: %w: no such group %q in the image's /etc/group", user, ErrUser, g)
	}
	n, err := strconv.ParseUint(rec[2], 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("resolving user %q: %w: malformed /etc/group entry", user, ErrUser)
	}
	return uid, uint32(n), nil
}

func findRecord(b []byte, match func([]string) bool) ([]string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if match(f) {
			return f, true
		}
	}
	return nil, false
}
