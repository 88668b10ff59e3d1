# How long one CTest test may run, by label, in seconds: a hang fails that test with "Timeout" instead of
# stalling the run. Each budget is several times the slowest test of its label on a loaded 2-core machine.
set(TFTP_TEST_TIMEOUT_unit 60)          # pure functions: milliseconds each
set(TFTP_TEST_TIMEOUT_fuzz 60)          # one corpus replay: under a second
set(TFTP_TEST_TIMEOUT_machine 120)      # virtual time; the 65537-block rollover runs take ~6 s
set(TFTP_TEST_TIMEOUT_integration 180)  # loopback sockets and child processes; the consumer build ~10 s
set(TFTP_TEST_TIMEOUT_interop 600)      # one peer's group in interop.py (dozens of transfers up to 40 MiB)
set(TFTP_TEST_TIMEOUT_loss 900)         # interop.py under loss: room for one repeat of the longest cell
set(TFTP_TEST_TIMEOUT_package 600)      # the .deb built, unpacked and its programs run
set(TFTP_TEST_TIMEOUT_storm 120)        # 200 simulated clients of tftp-storm: a few seconds

# The TIMEOUT of a test with `label`, in `out`.
function(tftp_test_timeout label out)
  if(NOT DEFINED TFTP_TEST_TIMEOUT_${label})
    message(FATAL_ERROR "no test timeout for label '${label}' (cmake/test_timeouts.cmake)")
  endif()
  set(${out} ${TFTP_TEST_TIMEOUT_${label}} PARENT_SCOPE)
endfunction()
