package diagnose

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// The kernel tells the peer of a unix socket through sock_diag, over
// netlink (unix_diag, with UDIAG_SHOW_PEER); /proc does not. The structs
// below are those of linux/unix_diag.h; x/sys/unix has the netlink
// framing but not them.

const (
	udiagShowPeer = 0x4 // UDIAG_SHOW_PEER
	unixDiagPeer  = 2   // UNIX_DIAG_PEER
)

// unixDiagReq is struct unix_diag_req.
type unixDiagReq struct {
	family   uint8
	protocol uint8
	pad      uint16
	states   uint32
	ino      uint32
	show     uint32
	cookie   [2]uint32
}

// unixDiagMsgLen is the size of struct unix_diag_msg: family, type, state,
// pad (a byte each), inode, cookie[2].
const unixDiagMsgLen = 16

// unixPeers asks the kernel for the peer of every connected unix socket of
// the caller's network namespace: inode -> peer inode. The netlink socket
// is owned through proc's registry and closed before the call returns.
func unixPeers(proc *procfs.FS) (map[uint64]uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("netlink sock_diag: %w", err)
	}
	release, err := proc.Own(fd, "netlink sock_diag socket")
	if err != nil {
		return nil, err
	}
	defer release()
	req := unixDiagReq{family: unix.AF_UNIX, states: ^uint32(0), show: udiagShowPeer, cookie: [2]uint32{^uint32(0), ^uint32(0)}}
	hdr := unix.NlMsghdr{
		Len:   uint32(unix.SizeofNlMsghdr + unsafe.Sizeof(req)),
		Type:  unix.SOCK_DIAG_BY_FAMILY,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP,
		Seq:   1,
	}
	msg := make([]byte, 0, hdr.Len)
	msg = append(msg, (*[unix.SizeofNlMsghdr]byte)(unsafe.Pointer(&hdr))[:]...)
	msg = append(msg, (*[unsafe.Sizeof(req)]byte)(unsafe.Pointer(&req))[:]...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink sock_diag: %w", err)
	}
	peers := map[uint64]uint64{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return peers, fmt.Errorf("netlink sock_diag: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			mlen := int(binary.NativeEndian.Uint32(b))
			mtype := binary.NativeEndian.Uint16(b[4:])
			if mlen < unix.SizeofNlMsghdr || mlen > len(b) {
				break
			}
			switch mtype {
			case unix.NLMSG_DONE:
				return peers, nil
			case unix.NLMSG_ERROR:
				return peers, errors.New("netlink sock_diag: the kernel refused the request")
			}
			if ino, peer, ok := parsePeer(b[unix.SizeofNlMsghdr:mlen]); ok {
				peers[ino] = peer
			}
			next := (mlen + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
			if next > len(b) {
				break
			}
			b = b[next:]
		}
	}
}

// parsePeer reads a unix_diag_msg and its UNIX_DIAG_PEER attribute.
func parsePeer(b []byte) (ino, peer uint64, ok bool) {
	if len(b) < unixDiagMsgLen {
		return 0, 0, false
	}
	ne := binary.NativeEndian
	ino = uint64(ne.Uint32(b[4:]))
	for rest := b[unixDiagMsgLen:]; len(rest) >= unix.SizeofRtAttr; {
		alen, atype := int(ne.Uint16(rest)), ne.Uint16(rest[2:])
		if alen < unix.SizeofRtAttr || alen > len(rest) {
			break
		}
		if atype == unixDiagPeer && alen >= unix.SizeofRtAttr+4 {
			return ino, uint64(ne.Uint32(rest[unix.SizeofRtAttr:])), true
		}
		next := (alen + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next > len(rest) {
			break
		}
		rest = rest[next:]
	}
	return ino, 0, false
}
