# Stands in for a broken oneDNN package: like Debian's dnnl-config.cmake on a machine
# without OpenCL's headers, it fails inside find_package with a REQUIRED dependency.
set(EdgerunBrokenDependency_FIND_REQUIRED TRUE)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(EdgerunBrokenDependency REQUIRED_VARS EDGERUN_BROKEN_DEPENDENCY_LIBRARY)
