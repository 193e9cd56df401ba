// Package rawmem holds every use of unsafe in the filter: reads of strings
// and host buffers a machine word at a time, and views of bytes as strings
// (and back) without a copy. Each function says what it requires of its
// caller; the fuzz tests hold each one to its ordinary-Go meaning, with the
// input placed just before an unreadable page (guard_linux_test.go), so that
// a read past the end crashes the test instead of returning whatever lies
// there.
//
// A use is here only because a paired benchmark (make bench-unsafe) showed
// that it saves at least a tenth of svcauth's own share of a cached request
// inside wasm (docs/performance.md, "unsafe, use by use"); those that did
// not were replaced by ordinary Go. (Bytes is an exception, for the reason
// it gives: the copy would leave a secret in the heap; Unexported is the
// benchmark harness's, never the module's.) Each has its ordinary-Go form behind a
// build tag, so that the comparison can be made again:
//
//	svcauth_plain_sametext   SameText compares byte by byte
//	svcauth_plain_indexbyte  IndexByte is strings.IndexByte
//	svcauth_plain_scan       ScanHeaderMap uses bounds-checked slices
//	svcauth_plain_hostmap    the header map comes from the SDK's list of
//	                         pairs instead of RequestHeaderMap
package rawmem
