package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"keeper/detach"
)

// targetRecording is issue 16's bound on what recording a session costs a
// flood: throughput recording / not recording, at least.
const targetRecording = 0.90

// recordCost is "keeper-bench detach -record": keeper's flood with its
// session recorded (KEEPER_SESSION_LOG) against the same without,
// interleaved round by round, then the ratio.
func (b *bench) recordCost(w io.Writer, keeper *impl, rounds int) error {
	dir, err := os.MkdirTemp("", "keeper-bench-record")
	if err != nil {
		return fmt.Errorf("-record: %w", err)
	}
	defer os.RemoveAll(dir)
	rec := &impl{name: "recording", argv: keeper.argv, logDir: dir,
		env: append(slices.Clip(keeper.env), detach.SessionLogEnv+"="+dir)}
	plain := &impl{name: "plain", argv: keeper.argv, env: keeper.env}

	var onMBps, offMBps, ratios []float64
	var onCPU, offCPU, lag []time.Duration
	var lost int64
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		order := []*impl{rec, plain}
		if r%2 == 0 {
			order[0], order[1] = plain, rec
		}
		var on, off floodFigures
		for _, im := range order {
			f, err := b.throughput(im)
			if err != nil {
				return fmt.Errorf("round %d: %w", r, err)
			}
			line := fmt.Sprintf("round %d %-9s  flood %6.1f MB/s, master CPU %4.0f ms", r, im.name, f.mbps, millis(f.cpu))
			if im == rec {
				on = f
				line += fmt.Sprintf(", recording on disk %4.0f ms after the last byte", millis(f.recordLag))
				if f.recordLost > 0 {
					line += fmt.Sprintf(", %.1f %% of the flood LOST", 100*float64(f.recordLost)/float64(b.flood))
				}
			} else {
				off = f
			}
			fmt.Fprintln(w, line)
		}
		onMBps, offMBps = append(onMBps, on.mbps), append(offMBps, off.mbps)
		onCPU, offCPU = append(onCPU, on.cpu), append(offCPU, off.cpu)
		lag = append(lag, on.recordLag)
		lost += on.recordLost
		ratios = append(ratios, on.mbps/off.mbps)
	}
	fmt.Fprintf(w, "(%.0f s)\n\n", time.Since(start).Seconds())

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	const nameWidth = 34
	fmt.Fprintf(tw, "%-*s\trecording\tplain\trecording/plain\ttarget\tresult\t\n", nameWidth, "figure")
	k, p := medianFloat(onMBps), medianFloat(offMBps)
	fmt.Fprintf(tw, "%-*s\t%.0f MB/s\t%.0f MB/s\t%.2fx\t\t\t\n", nameWidth, fmt.Sprintf("flood throughput (median of %d)", rounds), k, p, k/p)
	fmt.Fprintf(tw, "%-*s\t%.0f-%.0f MB/s\t%.0f-%.0f MB/s\t\t\t\t\n", nameWidth, "  range", slices.Min(onMBps), slices.Max(onMBps), slices.Min(offMBps), slices.Max(offMBps))
	ratio := medianFloat(ratios)
	result := "FAIL"
	if ratio >= targetRecording {
		result = "PASS"
	}
	fmt.Fprintf(tw, "%-*s\t\t\t%.2fx (%.2f-%.2f)\t>= %.2fx\t%s\t\n", nameWidth, "  ratio of each round's pair (median)", ratio, slices.Min(ratios), slices.Max(ratios), targetRecording, result)
	fmt.Fprintf(tw, "%-*s\t%.0f ms\t%.0f ms\t%.2fx\t\t\t\n", nameWidth, "master CPU per flood (median)", millis(medianDuration(onCPU)), millis(medianDuration(offCPU)), float64(medianDuration(onCPU))/float64(medianDuration(offCPU)))
	fmt.Fprintf(tw, "%-*s\t%.0f ms\t\t\t\t\t\n", nameWidth, "recording on disk after (median)", millis(medianDuration(lag)))
	fmt.Fprintf(tw, "%-*s\t%.1f %%\t\t\t0 %%\t\t\n", nameWidth, "flood not recorded (mean)", 100*float64(lost)/float64(b.flood)/float64(rounds))
	return tw.Flush()
}

// awaitRecording waits until the recording of session s holds the whole
// flood and returns how long that took (to the millisecond), and how many
// bytes of output it lacks once it stops growing, when its master says it
// lost some. The flood is printable ASCII, encoded byte for byte, so the
// recording holds it all once its files (it rotates at 50 MB) are at least
// that long.
func (b *bench) awaitRecording(im *impl, s *session) (lag time.Duration, lost int64, err error) {
	path := filepath.Join(im.logDir, filepath.Base(s.sock)+".cast")
	defer func() {
		for _, f := range castFiles(path) {
			os.Remove(f)
		}
	}()
	t0 := time.Now()
	var checked time.Time
	var last int64
	for {
		var size int64
		for _, f := range castFiles(path) {
			if fi, err := os.Stat(f); err == nil {
				size += fi.Size()
			}
		}
		if size >= b.flood {
			return time.Since(t0), 0, nil
		}
		if time.Since(checked) > 50*time.Millisecond {
			st, err := detach.QueryStatus(s.sock, 2*time.Second)
			if err != nil {
				return 0, 0, fmt.Errorf("recording: %w", err)
			}
			if st.LogError != "" {
				return 0, 0, fmt.Errorf("recording %s: %s", path, st.LogError)
			}
			if st.LogDropped > 0 && size == last {
				lag := time.Since(t0)
				got, err := castTextBytes(castFiles(path))
				return lag, b.flood - got, err
			}
			checked, last = time.Now(), size
		}
		if time.Since(t0) > 10*time.Second {
			return 0, 0, fmt.Errorf("recording %s: not all of the flood after 10 s", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// castFiles returns the files of the recording at path, oldest first:
// PATH.5 ... PATH.1 (rotated), PATH.
func castFiles(path string) []string {
	var files []string
	for i := 5; i >= 1; i-- {
		files = append(files, fmt.Sprintf("%s.%d", path, i))
	}
	return append(files, path)
}

// castTextBytes counts the output in the recordings' files that exist.
func castTextBytes(files []string) (int64, error) {
	var n int64
	for _, name := range files {
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("recording: %w", err)
		}
		text, _, err := detach.CastOutput(f, 0)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("recording %s: %w", name, err)
		}
		n += int64(len(text))
	}
	return n, nil
}
