/* gen_env_doc.c — writes docs/ENV.md from the registry (make docs). */
void hak_config_doc_write(int fd);
int main(void) {
    hak_config_doc_write(1);
    return 0;
}
