package wire

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func goodOffer() Offer {
	now := time.Unix(1_700_000_000, 0).UTC()
	return Offer{Version: OfferVersion, Peer: "12D3KooWabc", Name: "a", Seq: 7, Issued: now, Expires: now.Add(15 * time.Second),
		State: StateIdle, CPUs: 4, FreeCPUs: 2, MemoryBytes: 8 << 30, FreeMemoryBytes: 4 << 30,
		OS: "linux", Arch: "amd64", Labels: []string{"fast"}, OnReturn: "kill", Checkpoint: []string{"none"}}
}

func TestOfferRoundTrip(t *testing.T) {
	o := goodOffer()
	b, err := MarshalOffer(&o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalOffer(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != o.Seq || got.State != o.State || !got.Expires.Equal(o.Expires) || !got.HasLabel("fast") || got.HasLabel("slow") {
		t.Errorf("round trip: got %+v, want %+v", got, o)
	}
	if !o.Fresh(o.Issued) || o.Fresh(o.Expires) {
		t.Errorf("Fresh: want fresh at issue and stale at expiry")
	}
}

func TestOfferValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Offer)
		want   string
	}{
		{"version", func(o *Offer) { o.Version = 2 }, "version"},
		{"no peer", func(o *Offer) { o.Peer = "" }, "peer"},
		{"state", func(o *Offer) { o.State = "sleepy" }, "state"},
		{"free > total", func(o *Offer) { o.FreeCPUs = 9 }, "cpus"},
		{"negative cpus", func(o *Offer) { o.CPUs = -1 }, "cpus"},
		{"memory", func(o *Offer) { o.FreeMemoryBytes = o.MemoryBytes + 1 }, "memory"},
		{"expiry", func(o *Offer) { o.Expires = o.Issued.Add(-time.Second) }, "expires"},
		{"long name", func(o *Offer) { o.Name = strings.Repeat("n", 200) }, "too long"},
		{"labels", func(o *Offer) { o.Labels = make([]string, 65) }, "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := goodOffer()
			tt.mutate(&o)
			err := o.Validate()
			if !errors.Is(err, ErrOfferInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: got %v, want ErrOfferInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalOfferRejects(t *testing.T) {
	for name, in := range map[string]string{
		"garbled":       `{"v":1,`,
		"unknown field": `{"v":1,"peer":"p","state":"idle","evil":1}`,
		"oversized":     `"` + strings.Repeat("x", MaxOfferSize) + `"`,
	} {
		if _, err := UnmarshalOffer([]byte(in)); !errors.Is(err, ErrOfferInvalid) {
			t.Errorf("%s: got %v, want ErrOfferInvalid", name, err)
		}
	}
}

// FuzzUnmarshalOffer: arbitrary bytes never panic, and an accepted offer is valid.
func FuzzUnmarshalOffer(f *testing.F) {
	o := goodOffer()
	b, _ := MarshalOffer(&o)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := UnmarshalOffer(b)
		if err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("accepted an invalid offer: %v", err)
		}
	})
}
