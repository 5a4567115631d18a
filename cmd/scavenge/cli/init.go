package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	lp2ppeer "github.com/libp2p/go-libp2p/core/peer"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/peer"
)

var initCmd = &command{
	name:     "init",
	synopsis: "[flags]",
	summary:  "create a home directory: config, identity and swarm key",
	help: `
Creates the home directory (mode 0700) with a commented config file
scavenge.toml holding every key, a new identity key (which fixes this
machine's peer ID) and the swarm key: a copy of --swarm-key, or a new one
when none is given. Only peers with the same swarm key can connect, so copy
the swarm key to every machine that should work together, e.g.

  scavenge init --home /tmp/a --listen /ip4/127.0.0.1/tcp/0 --dedicated
  scavenge init --home /tmp/b --listen /ip4/127.0.0.1/tcp/0 \
      --swarm-key /tmp/a/swarm.key --bootstrap <a line of 'scavenge id --home /tmp/a'>

An existing config is never overwritten without --force; the identity and
swarm key of an existing home are kept.`,
	run: runInit,
}

func runInit(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	var listen, bootstrap listFlag
	fs.Var(&listen, "listen", "a `MULTIADDR` to listen on; repeat for more (default "+config.Default().Node.Listen[0]+")")
	fs.Var(&bootstrap, "bootstrap", "a peer to join the swarm through, a `MULTIADDR` ending in /p2p/<id> as printed by 'scavenge id'; repeatable")
	swarmKey := fs.String("swarm-key", "", "copy this swarm key `FILE` instead of making a new swarm")
	dedicated := fs.Bool("dedicated", false, "a processor-pool machine: always counts as idle and donates")
	name := fs.String("name", "", "the `NAME` peers see (default: the home's folder name when --home is given, else the host name)")
	public := fs.Bool("public", false, "no swarm key: any libp2p peer may connect (also enables QUIC)")
	force := fs.Bool("force", false, "overwrite an existing config file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *public && *swarmKey != "" {
		return usagef("--public and --swarm-key contradict each other: a public node has no swarm key")
	}
	dir, chosen, err := home.resolve(e)
	if err != nil {
		return err
	}

	c := config.Default()
	if len(listen) > 0 {
		c.Node.Listen = listen
	}
	if len(bootstrap) > 0 {
		c.Node.Bootstrap = bootstrap
	}
	switch {
	case *name != "":
		c.Name = *name
	case chosen:
		// Several daemons on one machine (tests, trying it out) would all
		// carry the host name; the folder tells them apart.
		c.Name = filepath.Base(dir)
	}
	c.Policy.Dedicated = *dedicated
	if *public {
		c.Node.Public, c.Node.SwarmKey = true, ""
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("the flags make an invalid config:\n%w", err)
	}

	cfgPath := filepath.Join(dir, config.FileName)
	if _, err := os.Stat(cfgPath); err == nil && !*force {
		return fmt.Errorf("%s already exists: use --force to overwrite it (the identity and swarm key are kept)", cfgPath)
	}
	if err := makeHome(e, dir); err != nil {
		return err
	}
	paths := c.Resolve(dir)
	key, err := peer.LoadOrCreateIdentity(paths.Node.Identity)
	if err != nil {
		return err
	}
	id, err := lp2ppeer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("identity %s: %w", paths.Node.Identity, err)
	}
	var keyNote string
	if !c.Node.Public {
		if keyNote, err = installSwarmKey(*swarmKey, paths.Node.SwarmKey, *force); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(cfgPath, config.Template(c), 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}

	w := e.stdout
	fmt.Fprintf(w, "Initialized %s\n", dir)
	fmt.Fprintf(w, "  config     %s\n", cfgPath)
	fmt.Fprintf(w, "  identity   %s\n", paths.Node.Identity)
	if c.Node.Public {
		fmt.Fprintf(w, "  swarm key  none: public node\n")
	} else {
		fmt.Fprintf(w, "  swarm key  %s (%s)\n", paths.Node.SwarmKey, keyNote)
	}
	fmt.Fprintf(w, "  name       %s\n", c.Name)
	fmt.Fprintf(w, "peer ID %s\n", id)
	fmt.Fprintf(w, "\nNext:\n  scavenge daemon --home %s\n", shellQuote(dir))
	fmt.Fprintf(w, "  scavenge id --home %s    # addresses for other machines' --bootstrap\n", shellQuote(dir))
	if keyNote == "new" {
		fmt.Fprintf(w, "and on other machines: scavenge init --swarm-key <copy of %s> --bootstrap <a line of scavenge id>\n", paths.Node.SwarmKey)
	}
	return nil
}

// makeHome creates the home directory with mode 0700: it holds the keys and
// the job database, and guests must not reach it. A folder that exists
// already is left as it is (it may be a shared one the user picked), with a
// warning when others can read it.
func makeHome(e *env, dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating home: %w", err)
		}
		return os.Chmod(dir, 0o700) // MkdirAll is subject to the umask
	}
	if err != nil {
		return fmt.Errorf("home: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("home %s exists and is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "scavenge: warning: %s is mode %o: other users can see into it (chmod 700 %s)\n", dir, fi.Mode().Perm(), shellQuote(dir))
	}
	return nil
}

// installSwarmKey puts the swarm key at dst: a copy of src, or a new key
// when src is "". An existing dst is kept unless src differs from it, which
// needs force. It returns how the key came to be, for the summary.
func installSwarmKey(src, dst string, force bool) (string, error) {
	old, oldErr := os.ReadFile(dst)
	if src == "" {
		if oldErr == nil {
			if _, err := peer.LoadSwarmKey(dst); err != nil {
				return "", err
			}
			return "kept", nil
		}
		if err := peer.GenerateSwarmKey(dst); err != nil {
			return "", err
		}
		return "new", nil
	}
	if _, err := peer.LoadSwarmKey(src); err != nil {
		return "", err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("swarm key: %w", err)
	}
	if oldErr == nil {
		if bytes.Equal(old, data) {
			return "copied from " + src, nil
		}
		if !force {
			return "", fmt.Errorf("%s holds a different swarm key than %s: use --force to replace it (this machine then leaves its old swarm)", dst, src)
		}
	}
	if err := writeFileAtomic(dst, data, 0o600); err != nil {
		return "", fmt.Errorf("swarm key: %w", err)
	}
	return "copied from " + src, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
