package supervise

import "testing"

func TestCgroup2Mount(t *testing.T) {
	tests := []struct{ name, mountinfo, want string }{
		{"unified", "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup"},
		{"hybrid", "31 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n" +
			"32 31 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n" +
			"33 31 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "/sys/fs/cgroup/unified"},
		{"v1 only", "33 31 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", ""},
		{"a bind mount of a subtree is no hierarchy root", "40 30 0:37 /sub /mnt/cg rw - cgroup2 cgroup2 rw\n", ""},
		{"escaped space", `40 30 0:37 / /mnt/c\040g rw - cgroup2 cgroup2 rw`, "/mnt/c g"},
	}
	for _, tt := range tests {
		if got := cgroup2Mount([]byte(tt.mountinfo)); got != tt.want {
			t.Errorf("%s: cgroup2Mount = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUnifiedCgroup(t *testing.T) {
	tests := []struct {
		name, procCgroup, want string
		ok                     bool
	}{
		{"unified", "0::/system.slice/keeper.service\n", "/system.slice/keeper.service", true},
		{"hybrid", "4:memory:/x\n1:name=systemd:/\n0::/\n", "/", true},
		{"v1 only", "4:memory:/x\n1:name=systemd:/\n", "", false},
	}
	for _, tt := range tests {
		got, ok := unifiedCgroup([]byte(tt.procCgroup))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: unifiedCgroup = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
