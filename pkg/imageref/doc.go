// Package imageref parses the image references every scone-build command
// accepts and opens or writes the images they name.
//
// One syntax serves every command:
//
//	nginx:1.25, localhost:5000/app:v1   a registry reference (plain http for
//	                                    localhost and private addresses, or
//	                                    with the Insecure option)
//	oci:DIR[:TAG]                       an OCI image layout directory
//	docker-archive:FILE[:REF]           a `docker save` archive, loadable by
//	                                    `podman load`
//	dir:PATH                            a root file system directory (source)
//	                                    or an output directory holding rootfs/
//	                                    and config.json (destination); used by
//	                                    the BuildKit frontend
//
// As in skopeo, the path ends at the first colon after the transport prefix.
// Multi-platform indexes are resolved with the Platform option (default
// linux/amd64); SGX exists only on x86-64, so other platforms are refused
// with *PlatformError. Writing never leaves a half-written destination
// behind: archives are written to a temporary file and renamed, layouts are
// updated by replacing index.json last.
package imageref
