// Placeholder so that tftp::asio has a translation unit until the drivers land.
#include "tftp/codec.hpp"
