// Asio drivers live here.
